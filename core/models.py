from django.db import models
from django.utils import timezone


class TimeStampedModel(models.Model):
    """`created` may be set explicitly (imports and the sync carry Infobip's createdAt); `modified` is ours."""

    created = models.DateTimeField(default=timezone.now, editable=False)
    modified = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
