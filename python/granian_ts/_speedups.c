/*
 * granian_ts._speedups: the per-request pieces of protocol.py in C, optional.
 *
 * protocol.py stays the reference: it imports this module when it was built (scripts/setup.sh,
 * `npm pack`: scripts/build-speedups.sh) and works the same without it. Each function here
 * returns exactly what its Python twin returns and raises what it raises; anything off the
 * common path (a non-ASCII head, a bytearray, a header cache miss) is handed to that twin,
 * given to `bind()` once, so the rules live in one place. tests/python/test_speedups.py
 * compares both on the golden frames and on random input.
 *
 * Built against the stable ABI (Py_LIMITED_API, CPython 3.10+): one file serves every CPython
 * of the platform it was built for; a Python that cannot load it (3.9, another platform, a
 * free-threaded build, PyPy) gets the pure-Python codec.
 */
#define PY_SSIZE_T_CLEAN
#define Py_LIMITED_API 0x030A0000
#include <Python.h>
#include <string.h>
#ifndef _WIN32
#include <errno.h>
#include <sys/socket.h>
#include <sys/types.h>
#endif

/* Set by bind(): the Python twins and what they share with us. */
static PyObject *ProtocolError;     /* protocol.ProtocolError */
static PyObject *py_parse;          /* FrameDecoder._parse (pure): for what is not bytes */
static PyObject *py_decode_head;    /* decode_request_head (pure): for non-ASCII heads */
static PyObject *py_encode_head;    /* encode_response_head_prefix (pure): for cache misses */
static PyObject *py_encode_text;    /* encode_response_head_text (pure): for cache misses */
static PyObject *heads;             /* protocol._HEADS: head bytes -> checked RESPONSE prefix */
static PyObject *text_heads;        /* protocol._TEXT_HEADS: head str -> checked RESPONSE prefix */
static PyObject *status_bytes;      /* protocol._STATUS_BYTES: int -> b"200" */
static PyObject *status_text;       /* protocol._STATUS_TEXT: int -> "200" */
static PyObject *nul;               /* "\0" */
static unsigned char known[256];    /* FRAME_TYPES as a table */
static unsigned long max_payload;   /* MAX_PAYLOAD */

#define HEADER_SIZE 12
#define REQUEST_FIELDS 7

/* (a, b) of two new references, both stolen; NULL if either is (an error is set). */
static PyObject *pair_of(PyObject *a, PyObject *b) {
    PyObject *t = (a != NULL && b != NULL) ? PyTuple_New(2) : NULL;
    if (t == NULL) {
        Py_XDECREF(a);
        Py_XDECREF(b);
        return NULL;
    }
    PyTuple_SetItem(t, 0, a);
    PyTuple_SetItem(t, 1, b);
    return t;
}

static inline unsigned long u32le(const unsigned char *p) {
    return (unsigned long)p[0] | ((unsigned long)p[1] << 8) | ((unsigned long)p[2] << 16) | ((unsigned long)p[3] << 24);
}

static int require_bound(void) {
    if (ProtocolError == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "granian_ts._speedups used before bind()");
        return -1;
    }
    return 0;
}

/* parse_frames(data) -> (frames, used): FrameDecoder._parse. */
static PyObject *parse_frames(PyObject *Py_UNUSED(self), PyObject *data) {
    if (require_bound() < 0) return NULL;
    if (!PyBytes_Check(data)) return PyObject_CallFunctionObjArgs(py_parse, data, NULL);
    const unsigned char *buf = (const unsigned char *)PyBytes_AsString(data);
    Py_ssize_t end = PyBytes_Size(data);
    if (buf == NULL || end < 0) return NULL;
    PyObject *frames = PyList_New(0);
    if (frames == NULL) return NULL;
    Py_ssize_t offset = 0;
    while (end - offset >= HEADER_SIZE) {
        const unsigned char *h = buf + offset;
        unsigned long length = u32le(h);
        unsigned int ftype = h[4], flags = h[5];
        unsigned long stream = u32le(h + 8);
        if (length > max_payload) {
            PyErr_Format(ProtocolError, "frame length %lu exceeds MAX_PAYLOAD (%lu)", length, max_payload);
            goto fail;
        }
        if (!known[ftype]) {
            PyErr_Format(ProtocolError, "unknown frame type 0x%02x", ftype);
            goto fail;
        }
        Py_ssize_t start = offset + HEADER_SIZE;
        if ((Py_ssize_t)length > end - start) break;
        PyObject *frame = PyTuple_New(4);
        if (frame == NULL) goto fail;
        PyObject *fields[4] = {PyLong_FromLong((long)ftype), PyLong_FromLong((long)flags),
                               PyLong_FromUnsignedLong(stream),
                               PyBytes_FromStringAndSize((const char *)buf + start, (Py_ssize_t)length)};
        for (int i = 0; i < 4; i++) {
            if (fields[i] == NULL) {
                for (int k = i; k < 4; k++) Py_XDECREF(fields[k]);
                Py_DECREF(frame);
                goto fail;
            }
            PyTuple_SetItem(frame, i, fields[i]); /* steals */
        }
        int rc = PyList_Append(frames, frame);
        Py_DECREF(frame);
        if (rc < 0) goto fail;
        offset = start + (Py_ssize_t)length;
    }
    return Py_BuildValue("(Nn)", frames, offset);
fail:
    Py_DECREF(frames);
    return NULL;
}

/* A few strings every request repeats (method, scheme, version), made once. */
#define SMALL 8
static struct {
    char text[8];
    Py_ssize_t len;
    PyObject *str;
} common[SMALL];
static int ncommon;

static void remember_common(const char *text) {
    if (ncommon >= SMALL) return;
    PyObject *s = PyUnicode_FromString(text);
    if (s == NULL) {
        PyErr_Clear();
        return;
    }
    strncpy(common[ncommon].text, text, sizeof common[ncommon].text - 1);
    common[ncommon].len = (Py_ssize_t)strlen(text);
    common[ncommon].str = s;
    ncommon++;
}

static PyObject *ascii_str(const char *p, Py_ssize_t n) {
    for (int i = 0; i < ncommon; i++) {
        if (common[i].len == n && memcmp(common[i].text, p, (size_t)n) == 0) {
            Py_INCREF(common[i].str);
            return common[i].str;
        }
    }
    return PyUnicode_DecodeLatin1(p, n, NULL);
}

/* The client port: plain decimal digits, as Bun sends it; anything else goes through int(). */
static PyObject *port_of(const char *p, Py_ssize_t n) {
    if (n == 0) return PyLong_FromLong(0);
    if (n <= 9) {
        long v = 0;
        Py_ssize_t i = 0;
        for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) v = v * 10 + (p[i] - '0');
        if (i == n) return PyLong_FromLong(v);
    }
    PyObject *raw = PyBytes_FromStringAndSize(p, n);
    if (raw == NULL) return NULL;
    PyObject *v = PyObject_CallFunctionObjArgs((PyObject *)&PyLong_Type, raw, NULL);
    if (v == NULL && PyErr_ExceptionMatches(PyExc_ValueError)) {
        PyErr_Clear();
        PyErr_Format(ProtocolError, "REQUEST client_port is not a number: %R", raw);
    }
    Py_DECREF(raw);
    return v;
}

static int all_ascii(const char *p, Py_ssize_t n) {
    Py_ssize_t i = 0;
    for (; i + 8 <= n; i += 8) {
        unsigned long long w;
        memcpy(&w, p + i, 8);
        if (w & 0x8080808080808080ULL) return 0;
    }
    for (; i < n; i++)
        if (p[i] & 0x80) return 0;
    return 1;
}

#define MAX_FIELDS 256

/* decode_request_head(payload) -> (method, scheme, version, host, port, raw_path, query, headers). */
static PyObject *decode_request_head(PyObject *Py_UNUSED(self), PyObject *payload) {
    if (require_bound() < 0) return NULL;
    if (!PyBytes_Check(payload)) return PyObject_CallFunctionObjArgs(py_decode_head, payload, NULL);
    const char *buf = PyBytes_AsString(payload);
    Py_ssize_t size = PyBytes_Size(payload);
    if (buf == NULL || size < 0) return NULL;
    /* Past ASCII, the twin turns the UTF-8 of latin-1 code points back into bytes; and a head of
       more fields than this table holds is rare enough to leave to it too. */
    if (!all_ascii(buf, size)) return PyObject_CallFunctionObjArgs(py_decode_head, payload, NULL);
    const char *at[MAX_FIELDS];
    Py_ssize_t len[MAX_FIELDS];
    Py_ssize_t count = 0;
    const char *p = buf, *stop = buf + size;
    for (;;) {
        if (count == MAX_FIELDS) return PyObject_CallFunctionObjArgs(py_decode_head, payload, NULL);
        const char *z = memchr(p, 0, (size_t)(stop - p));
        at[count] = p;
        len[count++] = (z == NULL ? stop : z) - p;
        if (z == NULL) break;
        p = z + 1;
    }
    if (count < REQUEST_FIELDS || (count - REQUEST_FIELDS) % 2) {
        PyErr_Format(ProtocolError, "REQUEST head has %zd fields", count);
        return NULL;
    }
    PyObject *port = port_of(at[4], len[4]);
    if (port == NULL) return NULL;
    Py_ssize_t pairs = (count - REQUEST_FIELDS) / 2;
    PyObject *headers = PyList_New(pairs);
    if (headers == NULL) {
        Py_DECREF(port);
        return NULL;
    }
    for (Py_ssize_t i = 0, f = REQUEST_FIELDS; i < pairs; i++, f += 2) {
        PyObject *pair = pair_of(PyBytes_FromStringAndSize(at[f], len[f]), PyBytes_FromStringAndSize(at[f + 1], len[f + 1]));
        if (pair == NULL) {
            Py_DECREF(port);
            Py_DECREF(headers);
            return NULL;
        }
        PyList_SetItem(headers, i, pair); /* steals */
    }
    return Py_BuildValue("(NNNNNy#y#N)",
                         ascii_str(at[0], len[0]), ascii_str(at[1], len[1]), ascii_str(at[2], len[2]),
                         PyUnicode_DecodeLatin1(at[3], len[3], NULL), port,
                         at[5], len[5], at[6], len[6], headers);
}

#define MAX_PAIRS 64

/*
 * The fields of `hdrs` when it is a list or tuple of at most MAX_PAIRS 2-tuples whose items are
 * all exactly of `type` (how apps and frameworks give response headers): `items` gets them as
 * borrowed references, name, value, name, ... and the number of pairs is returned; -1, with no
 * error set, for any other shape (the caller's twin decides).
 */
static Py_ssize_t plain_pairs(PyObject *hdrs, PyTypeObject *type, PyObject **items) {
    int is_list = PyList_Check(hdrs);
    if (!is_list && !PyTuple_Check(hdrs)) return -1;
    Py_ssize_t n = is_list ? PyList_Size(hdrs) : PyTuple_Size(hdrs);
    if (n < 0 || n > MAX_PAIRS) {
        PyErr_Clear();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *pair = is_list ? PyList_GetItem(hdrs, i) : PyTuple_GetItem(hdrs, i);
        if (pair == NULL || !PyTuple_Check(pair) || PyTuple_Size(pair) != 2) {
            PyErr_Clear();
            return -1;
        }
        for (int k = 0; k < 2; k++) {
            PyObject *item = PyTuple_GetItem(pair, k);
            if (item == NULL || Py_TYPE(item) != type) {
                PyErr_Clear();
                return -1;
            }
            items[2 * i + k] = item;
        }
    }
    return n;
}

/*
 * encode_response_head_prefix(status, headers): the header cache's hit, for headers given as a
 * list or tuple of 2-tuples of bytes (what ASGI apps and frameworks send). The joined head is
 * the cache's key, as in the twin; a miss, or anything else, is the twin's to check and encode.
 */
static PyObject *encode_response_head_prefix(PyObject *Py_UNUSED(self), PyObject *const *args, Py_ssize_t nargs) {
    if (require_bound() < 0) return NULL;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "encode_response_head_prefix(status, headers)");
        return NULL;
    }
    PyObject *status = args[0], *hdrs = args[1];
    PyObject *items[2 * MAX_PAIRS];
    Py_ssize_t n = plain_pairs(hdrs, &PyBytes_Type, items);
    if (n < 0) goto twin;
    PyObject *code = PyDict_GetItemWithError(status_bytes, status); /* borrowed */
    if (code == NULL) {
        if (PyErr_Occurred()) return NULL;
        goto twin;
    }
    /* Sizes first, so the key is built in one allocation. */
    Py_ssize_t total = PyBytes_Size(code);
    for (Py_ssize_t i = 0; i < 2 * n; i++) total += 1 + PyBytes_Size(items[i]);
    PyObject *key = PyBytes_FromStringAndSize(NULL, total);
    if (key == NULL) return NULL;
    char *out = PyBytes_AsString(key);
    Py_ssize_t len = PyBytes_Size(code);
    memcpy(out, PyBytes_AsString(code), (size_t)len);
    char *w = out + len;
    for (Py_ssize_t i = 0; i < 2 * n; i++) {
        const char *s = PyBytes_AsString(items[i]);
        Py_ssize_t l = PyBytes_Size(items[i]);
        /* A field holding a NUL could join into a head cached from clean fields: the twin refuses it. */
        if (memchr(s, 0, (size_t)l) != NULL) {
            Py_DECREF(key);
            goto twin;
        }
        *w++ = '\0';
        memcpy(w, s, (size_t)l);
        w += l;
    }
    PyObject *prefix = PyDict_GetItemWithError(heads, key); /* borrowed */
    Py_DECREF(key);
    if (prefix != NULL) {
        Py_INCREF(prefix);
        return prefix;
    }
    if (PyErr_Occurred()) return NULL;
twin:
    return PyObject_CallFunctionObjArgs(py_encode_head, status, hdrs, NULL);
}

/*
 * The cached prefix of the text head `code` + `hdrs` (a list or tuple of 2-tuples of str, joined
 * with NULs into the cache's key, as protocol.encode_response_head_text and WSGI's encoder join
 * theirs): a new reference, or NULL with no error set when it is not cached or `hdrs` is not of
 * that shape (the caller's twin decides), or NULL with an error.
 */
static PyObject *text_hit(PyObject *cache, PyObject *code, PyObject *hdrs) {
    PyObject *items[2 * MAX_PAIRS];
    Py_ssize_t n = plain_pairs(hdrs, &PyUnicode_Type, items);
    if (n < 0 || !PyUnicode_CheckExact(code)) return NULL;
    PyObject *fields = PyList_New(1 + 2 * n);
    if (fields == NULL) return NULL;
    Py_INCREF(code);
    PyList_SetItem(fields, 0, code);
    for (Py_ssize_t i = 0; i < 2 * n; i++) {
        Py_INCREF(items[i]);
        PyList_SetItem(fields, 1 + i, items[i]);
    }
    PyObject *key = PyUnicode_Join(nul, fields);
    Py_DECREF(fields);
    if (key == NULL) return NULL;
    /* A field holding a NUL could join into a head cached from clean fields: the twin refuses it. */
    Py_ssize_t nuls = PyUnicode_Count(key, nul, 0, PY_SSIZE_T_MAX);
    PyObject *prefix = NULL;
    if (nuls == 2 * n) {
        prefix = PyDict_GetItemWithError(cache, key); /* borrowed */
        Py_XINCREF(prefix);
    }
    Py_DECREF(key);
    return prefix;
}

/* encode_response_head_text(status, headers): the text cache's hit (RSGI), else the twin. */
static PyObject *encode_response_head_text(PyObject *Py_UNUSED(self), PyObject *const *args, Py_ssize_t nargs) {
    if (require_bound() < 0) return NULL;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "encode_response_head_text(status, headers)");
        return NULL;
    }
    PyObject *code = PyDict_GetItemWithError(status_text, args[0]); /* borrowed */
    if (code != NULL) {
        PyObject *prefix = text_hit(text_heads, code, args[1]);
        if (prefix != NULL || PyErr_Occurred()) return prefix;
    } else if (PyErr_Occurred()) {
        return NULL;
    }
    return PyObject_CallFunctionObjArgs(py_encode_text, args[0], args[1], NULL);
}

/* cached_text_head(cache, code, headers): the prefix `cache` holds for that head, or None (WSGI). */
static PyObject *cached_text_head(PyObject *Py_UNUSED(self), PyObject *const *args, Py_ssize_t nargs) {
    if (require_bound() < 0) return NULL;
    if (nargs != 3 || !PyDict_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "cached_text_head(cache: dict, code: str, headers)");
        return NULL;
    }
    PyObject *prefix = text_hit(args[0], args[1], args[2]);
    if (prefix != NULL || PyErr_Occurred()) return prefix;
    Py_RETURN_NONE;
}

/*
 * WSGI's request headers into its environ (interfaces/wsgi.py, `_apply_headers`): each name's
 * key from the shared cache, or made here for an ASCII name ("HTTP_" + upper, "-" as "_"; a name
 * with "_" dropped), or by the twin's `_header_key` for any other; a repeated key joined with ","
 * (cookies ";"). Bound by bind_wsgi().
 */
static PyObject *wsgi_keys;        /* _HEADER_KEYS */
static Py_ssize_t wsgi_keys_max;   /* _HEADER_KEYS_MAX */
static PyObject *py_header_key;    /* _header_key */
static PyObject *py_apply_headers; /* _apply_headers (pure) */
static PyObject *comma, *semicolon;

/* The environ key of `name` (new reference), Py_None for a dropped name, NULL on error. */
static PyObject *header_key(PyObject *name) {
    PyObject *key = PyDict_GetItemWithError(wsgi_keys, name); /* borrowed */
    if (key != NULL && PyObject_IsTrue(key) == 1) {
        Py_INCREF(key);
        return key;
    }
    if (PyErr_Occurred()) return NULL;
    const char *p = PyBytes_AsString(name);
    Py_ssize_t n = PyBytes_Size(name);
    if (p == NULL || n < 0) return NULL;
    if (memchr(p, '_', (size_t)n) != NULL) Py_RETURN_NONE;
    if (!all_ascii(p, n) || n > 256) return PyObject_CallFunctionObjArgs(py_header_key, name, NULL);
    char buf[5 + 256];
    memcpy(buf, "HTTP_", 5);
    for (Py_ssize_t i = 0; i < n; i++) {
        char c = p[i];
        buf[5 + i] = c == '-' ? '_' : (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
    }
    key = PyUnicode_DecodeLatin1(buf, 5 + n, NULL);
    if (key == NULL) return NULL;
    Py_ssize_t size = PyDict_Size(wsgi_keys);
    if (size >= 0 && size < wsgi_keys_max && PyDict_SetItem(wsgi_keys, name, key) < 0) {
        Py_DECREF(key);
        return NULL;
    }
    return key;
}

/* wsgi_apply_headers(environ, headers): `_apply_headers`, for a list of (bytes, bytes). */
static PyObject *wsgi_apply_headers(PyObject *Py_UNUSED(self), PyObject *const *args, Py_ssize_t nargs) {
    if (wsgi_keys == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "granian_ts._speedups used before bind_wsgi()");
        return NULL;
    }
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "wsgi_apply_headers(environ, headers)");
        return NULL;
    }
    PyObject *environ = args[0], *headers = args[1];
    Py_ssize_t n = PyList_Check(headers) ? PyList_Size(headers) : -1;
    /* Checked whole before the environ changes: the twin must never apply a header twice. */
    int plain = PyDict_CheckExact(environ) && n >= 0;
    for (Py_ssize_t i = 0; plain && i < n; i++) {
        PyObject *pair = PyList_GetItem(headers, i);
        plain = pair != NULL && PyTuple_Check(pair) && PyTuple_Size(pair) == 2 &&
                PyBytes_CheckExact(PyTuple_GetItem(pair, 0)) && PyBytes_CheckExact(PyTuple_GetItem(pair, 1));
    }
    if (!plain) {
        PyErr_Clear();
        return PyObject_CallFunctionObjArgs(py_apply_headers, environ, headers, NULL);
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *pair = PyList_GetItem(headers, i);
        PyObject *key = header_key(PyTuple_GetItem(pair, 0));
        if (key == NULL) return NULL;
        if (key == Py_None) {
            Py_DECREF(key);
            continue;
        }
        PyObject *raw = PyTuple_GetItem(pair, 1);
        PyObject *value = PyUnicode_DecodeLatin1(PyBytes_AsString(raw), PyBytes_Size(raw), NULL);
        if (value == NULL) {
            Py_DECREF(key);
            return NULL;
        }
        PyObject *old = PyDict_GetItemWithError(environ, key); /* borrowed */
        if (old != NULL) {
            PyObject *sep = PyUnicode_CompareWithASCIIString(key, "HTTP_COOKIE") == 0 ? semicolon : comma;
            PyObject *tail = PyUnicode_Concat(sep, value);
            Py_DECREF(value);
            value = tail == NULL ? NULL : PyUnicode_Concat(old, tail);
            Py_XDECREF(tail);
        } else if (PyErr_Occurred()) {
            Py_CLEAR(value);
        }
        int rc = value == NULL ? -1 : PyDict_SetItem(environ, key, value);
        Py_DECREF(key);
        Py_XDECREF(value);
        if (rc < 0) return NULL;
    }
    Py_RETURN_NONE;
}

static void keep(PyObject **slot, PyObject *value) {
    PyObject *old = *slot;
    Py_INCREF(value);
    *slot = value;
    Py_XDECREF(old);
}

/*
 * bind(ProtocolError, frame_types, max_payload, parse, decode_request_head,
 *      encode_response_head_prefix, encode_response_head_text, heads, text_heads, status_bytes, status_text)
 */
static PyObject *bind_codec(PyObject *Py_UNUSED(self), PyObject *args) {
    PyObject *error, *types, *parse, *decode, *encode, *encode_text, *cache, *text_cache, *statuses, *texts;
    unsigned long limit;
    if (!PyArg_ParseTuple(args, "OOkOOOOO!O!O!O!", &error, &types, &limit, &parse, &decode, &encode, &encode_text,
                          &PyDict_Type, &cache, &PyDict_Type, &text_cache, &PyDict_Type, &statuses, &PyDict_Type, &texts))
        return NULL;
    if (nul == NULL && (nul = PyUnicode_FromStringAndSize("\0", 1)) == NULL) return NULL;
    unsigned char table[256] = {0};
    PyObject *it = PyObject_GetIter(types);
    if (it == NULL) return NULL;
    PyObject *item;
    while ((item = PyIter_Next(it)) != NULL) {
        long t = PyLong_AsLong(item);
        Py_DECREF(item);
        if (t < 0 || t > 255) {
            Py_DECREF(it);
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "a frame type is one byte");
            return NULL;
        }
        table[t] = 1;
    }
    Py_DECREF(it);
    if (PyErr_Occurred()) return NULL;
    memcpy(known, table, sizeof known);
    max_payload = limit;
    keep(&ProtocolError, error);
    keep(&py_parse, parse);
    keep(&py_decode_head, decode);
    keep(&py_encode_head, encode);
    keep(&py_encode_text, encode_text);
    keep(&heads, cache);
    keep(&text_heads, text_cache);
    keep(&status_bytes, statuses);
    keep(&status_text, texts);
    Py_RETURN_NONE;
}

/* bind_wsgi(header_keys, header_keys_max, header_key, apply_headers): interfaces/wsgi.py's. */
static PyObject *bind_wsgi(PyObject *Py_UNUSED(self), PyObject *args) {
    PyObject *keys, *key_of, *apply;
    Py_ssize_t limit;
    if (!PyArg_ParseTuple(args, "O!nOO", &PyDict_Type, &keys, &limit, &key_of, &apply)) return NULL;
    if (comma == NULL && (comma = PyUnicode_FromString(",")) == NULL) return NULL;
    if (semicolon == NULL && (semicolon = PyUnicode_FromString(";")) == NULL) return NULL;
    wsgi_keys_max = limit;
    keep(&py_header_key, key_of);
    keep(&py_apply_headers, apply);
    keep(&wsgi_keys, keys);
    Py_RETURN_NONE;
}

#ifndef _WIN32
/*
 * send_now(fd, data) -> int: what the socket takes of `data` now, without waiting and without
 * giving up the GIL (0 when it takes nothing); OSError for what fails otherwise. Not a twin of a
 * Python function but of socket.send with MSG_DONTWAIT, less the GIL hand-over Python makes
 * around every call: a WSGI thread that gives the GIL up to write its reply waits to take it
 * back behind every other thread that wants it, dozens of times a request when many run at once
 * (interfaces/_wsgi_link.py, bench/RESULTS.md 2026-12-08). A non-blocking write to a Unix socket
 * is over in microseconds.
 */
static PyObject *send_now(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "send_now() takes a file descriptor and bytes");
        return NULL;
    }
    long fd = PyLong_AsLong(args[0]);
    if (fd == -1 && PyErr_Occurred()) return NULL;
    char *data;
    Py_ssize_t size;
    if (PyBytes_AsStringAndSize(args[1], &data, &size) < 0) return NULL;
    int flags = MSG_DONTWAIT;
#ifdef MSG_NOSIGNAL
    flags |= MSG_NOSIGNAL;
#endif
    ssize_t sent = send((int)fd, data, (size_t)size, flags);
    if (sent < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return PyLong_FromLong(0);
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    return PyLong_FromSsize_t(sent);
}
#endif

static PyMethodDef methods[] = {
    {"bind", bind_codec, METH_VARARGS, "Give the module the Python codec it stands in for."},
    {"parse_frames", parse_frames, METH_O, "FrameDecoder._parse: (frames, used)."},
    {"decode_request_head", decode_request_head, METH_O, "protocol.decode_request_head."},
    {"encode_response_head_prefix", (PyCFunction)(void (*)(void))encode_response_head_prefix, METH_FASTCALL,
     "protocol.encode_response_head_prefix."},
    {"encode_response_head_text", (PyCFunction)(void (*)(void))encode_response_head_text, METH_FASTCALL,
     "protocol.encode_response_head_text."},
    {"cached_text_head", (PyCFunction)(void (*)(void))cached_text_head, METH_FASTCALL,
     "The prefix a text head cache holds for (code, headers), or None."},
    {"bind_wsgi", bind_wsgi, METH_VARARGS, "Give the module WSGI's header-key cache and its twins."},
    {"wsgi_apply_headers", (PyCFunction)(void (*)(void))wsgi_apply_headers, METH_FASTCALL,
     "interfaces.wsgi._apply_headers."},
#ifndef _WIN32
    {"send_now", (PyCFunction)(void (*)(void))send_now, METH_FASTCALL,
     "What a socket takes of bytes now, without waiting or giving up the GIL."},
#endif
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_speedups", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__speedups(void) {
    const char *texts[] = {"GET", "POST", "HEAD", "http", "https", "1.1", "2", "1.0"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) remember_common(texts[i]);
    return PyModule_Create(&module);
}
