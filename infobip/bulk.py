"""Moved to :mod:`core.bulk` (one copy of the bulk SQL helpers); kept only until infobip/push.py imports it there."""

from core.bulk import bulk_set, copy_insert, reserve_ids

__all__ = ["bulk_set", "copy_insert", "reserve_ids"]
