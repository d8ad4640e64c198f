from django.db import models
from django.utils import timezone

# Created by people migration 0009 (a wrapper, because unaccent() itself is only STABLE and so can't be indexed):
# lower case without accents, the form names are searched in ("juric" and "jurić" both find Jurić).
FOLD_FUNCTION = "cdp_fold"


class Folded(models.Func):
    """`cdp_fold(expression)`: an IMMUTABLE lower(unaccent(…)), so an expression index on it serves a search;
    on a constant (the search term) PostgreSQL evaluates it once while planning, and the LIKE stays an index
    range scan."""

    function = FOLD_FUNCTION
    output_field = models.TextField()


class TimeStampedModel(models.Model):
    """`created` may be set explicitly (imports and the sync carry Infobip's createdAt); `modified` is ours."""

    created = models.DateTimeField(default=timezone.now, editable=False)
    modified = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
