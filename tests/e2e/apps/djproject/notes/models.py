from django.db import models


class Note(models.Model):
    title = models.CharField(max_length=100)
    body = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.title


class Attachment(models.Model):
    note = models.ForeignKey(Note, null=True, blank=True, on_delete=models.CASCADE)
    upload = models.FileField(upload_to="uploads/")
    size = models.BigIntegerField()
