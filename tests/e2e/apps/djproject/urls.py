from django.contrib import admin
from django.urls import path

from .notes import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("notes/", views.note_list, name="note-list"),
    path("notes/new/", views.note_new, name="note-new"),
    path("upload/", views.upload, name="upload"),
    path("stream/", views.stream, name="stream"),
    path("file/", views.file, name="file"),
    path("request-info/", views.request_info, name="request-info"),
    path("boom/", views.boom, name="boom"),
]
