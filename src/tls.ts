/**
 * TLS for the listener: the `--ssl-*` options checked once at start-up (on the main thread,
 * before any Python worker starts) and turned into the `tls` object of `Bun.serve`.
 *
 * Every file is read here, so a missing or unreadable one, a wrong key password or a key that
 * does not belong to the certificate is one line naming the option and the file, and the
 * listener threads get plain PEM strings they cannot fail on.
 */
import { readFileSync } from "node:fs";
import { consola } from "./logs/_consola.ts";
import { OptionError, flagOf, type OptionName, type ResolvedOptions } from "./options.ts";

/** What the listener threads need (structured-clone safe: strings and booleans). */
export interface TLSConfig {
  cert: string;
  key: string;
  passphrase?: string;
  ca?: string;
  crl?: string;
  requestCert: boolean;
  /** Oldest TLS version accepted. */
  minVersion: "tls1.2" | "tls1.3";
}

/**
 * OpenSSL's SSL_OP_NO_TLSv1_2 (BoringSSL keeps the value): Bun.serve has no `minVersion`,
 * but it hands `secureOptions` to SSL_CTX_set_options, and Bun never offers TLS 1.0/1.1.
 * https://github.com/openssl/openssl/blob/master/include/openssl/ssl.h.in
 */
const SSL_OP_NO_TLSv1_2 = 0x08000000;

function read(name: OptionName, path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === "ENOENT" ? "no such file" : e.code === "EACCES" ? "permission denied" : e.code === "EISDIR" ? "is a directory" : e.message;
    throw new OptionError(`invalid value for --${flagOf(name)}: ${path}: ${why}`);
  }
}

/** Check the `--ssl-*` options; null when TLS is off. Throws `OptionError` (one line). */
export function resolveTLS(o: ResolvedOptions): TLSConfig | null {
  const certPath = o.sslCertificate;
  const keyPath = o.sslKeyfile;
  if (!certPath && !keyPath) {
    for (const name of ["sslKeyfilePassword", "sslCa", "sslCrl"] as const)
      if (o[name] !== undefined) throw new OptionError(`--${flagOf(name)} needs --ssl-certificate and --ssl-keyfile`);
    if (o.sslClientVerify) throw new OptionError("--ssl-client-verify needs --ssl-certificate, --ssl-keyfile and --ssl-ca");
    return null;
  }
  if (!certPath) throw new OptionError("--ssl-keyfile needs --ssl-certificate");
  if (!keyPath) throw new OptionError("--ssl-certificate needs --ssl-keyfile");
  const cert = read("sslCertificate", certPath);
  const key = read("sslKeyfile", keyPath);
  // Loaded only with TLS on: node:crypto costs about 3 MiB of RSS in the thread that imports it.
  const { X509Certificate, createPrivateKey } = require("node:crypto") as typeof import("node:crypto");

  let x509: InstanceType<typeof X509Certificate>;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    throw new OptionError(`invalid value for --ssl-certificate: ${certPath}: not a PEM certificate`);
  }
  let privateKey;
  try {
    privateKey = createPrivateKey({ key, passphrase: o.sslKeyfilePassword });
  } catch (err) {
    const msg = String((err as Error).message);
    if (/passphrase|decrypt|bad password/i.test(msg) || /ENCRYPTED/.test(key))
      throw new OptionError(
        o.sslKeyfilePassword === undefined
          ? `--ssl-keyfile ${keyPath} is encrypted: give its password with --ssl-keyfile-password`
          : `invalid value for --ssl-keyfile-password: it does not decrypt ${keyPath}`,
      );
    throw new OptionError(`invalid value for --ssl-keyfile: ${keyPath}: not a PEM private key`);
  }
  if (!x509.checkPrivateKey(privateKey))
    throw new OptionError(`invalid value for --ssl-keyfile: ${keyPath} is not the key of the certificate in ${certPath}`);
  const now = Date.now();
  const log = consola.withTag("tls");
  if (Date.parse(x509.validTo) < now) log.warn(`--ssl-certificate ${certPath} expired on ${x509.validTo}`);
  else if (Date.parse(x509.validFrom) > now) log.warn(`--ssl-certificate ${certPath} is not valid before ${x509.validFrom}`);

  const ca = o.sslCa !== undefined ? read("sslCa", o.sslCa) : undefined;
  if (ca !== undefined) {
    try {
      new X509Certificate(ca);
    } catch {
      throw new OptionError(`invalid value for --ssl-ca: ${o.sslCa}: not a PEM certificate`);
    }
  }
  const crl = o.sslCrl !== undefined ? read("sslCrl", o.sslCrl) : undefined;
  if (crl !== undefined && !crl.includes("-----BEGIN X509 CRL-----"))
    throw new OptionError(`invalid value for --ssl-crl: ${o.sslCrl}: not a PEM certificate revocation list`);
  if (o.sslClientVerify && ca === undefined) throw new OptionError("--ssl-client-verify needs --ssl-ca");
  return {
    cert,
    key,
    passphrase: o.sslKeyfilePassword,
    ca,
    crl,
    requestCert: o.sslClientVerify,
    minVersion: o.sslProtocolMin as TLSConfig["minVersion"],
  };
}

/** The `tls` option of Bun.serve for a resolved config. */
export function serveTLS(t: TLSConfig): Bun.TLSOptions {
  // No ALPNProtocols: Bun offers h2 and/or http/1.1 by ALPN itself, from `http1`/`http2`.
  return {
    cert: t.cert,
    key: t.key,
    passphrase: t.passphrase,
    ca: t.ca,
    crl: t.crl,
    // A client certificate is asked for only with --ssl-client-verify; then one that is
    // missing, not signed by --ssl-ca, or on the CRL fails the handshake.
    requestCert: t.requestCert,
    rejectUnauthorized: t.requestCert,
    secureOptions: t.minVersion === "tls1.3" ? SSL_OP_NO_TLSv1_2 : 0,
  };
}
