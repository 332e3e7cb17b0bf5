import hashlib
import os
import time

from django.conf import settings
from django.http import FileResponse, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt

from .forms import NoteForm, UploadForm
from .models import Attachment, Note


def note_list(request):
    return JsonResponse({"notes": [{"title": n.title, "body": n.body} for n in Note.objects.order_by("id")]})


def note_new(request):
    form = NoteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.save()
        return redirect("note-list")
    return render(request, "notes/new.html", {"form": form}, status=400 if request.method == "POST" else 200)


@csrf_exempt
def upload(request):
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors}, status=400)
    f = form.cleaned_data["upload"]
    digest = hashlib.sha256()
    for chunk in f.chunks():
        digest.update(chunk)
    # Large files were streamed to a temporary file by Django's upload handlers, not memory.
    on_disk = hasattr(f, "temporary_file_path")
    attachment = Attachment.objects.create(upload=f, size=f.size)
    return JsonResponse({
        "name": f.name, "size": f.size, "sha256": digest.hexdigest(), "on_disk": on_disk,
        "stored": os.path.exists(attachment.upload.path),
    })


def stream(request):
    n, delay = int(request.GET.get("n", 3)), float(request.GET.get("delay", 0.3))

    def lines():
        for i in range(n):
            yield f"line {i}\n"
            time.sleep(delay)

    return StreamingHttpResponse(lines(), content_type="text/plain")


def file(request):
    path = settings.DATA_DIR / "served.bin"
    if not path.exists():
        path.write_bytes(bytes(range(256)) * 4096 * 3)  # 3 MiB
    return FileResponse(open(path, "rb"), as_attachment=True, filename="served.bin")


def request_info(request):
    return JsonResponse({
        "path": request.path, "path_info": request.path_info, "script_name": request.META["SCRIPT_NAME"],
        "host": request.get_host(), "scheme": request.scheme, "query": request.GET.dict(),
        "remote_addr": request.META["REMOTE_ADDR"], "cookies": request.COOKIES,
        "absolute": request.build_absolute_uri(),
    })


def boom(request):
    raise RuntimeError("django view failed")
