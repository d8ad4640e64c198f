"""The three-step two-way sync of identities and Infobip persons (seed "Synchronize Orangepill and Infobip CDP").

``identity.id`` ↔ Infobip ``externalId``; ``identity.person`` ↔ Infobip person ``id`` through the mirror. A run
pages through Infobip's persons, one transaction per page; the design is in docs/sync.md. Modules: ``runs``
(a run's life), ``params``, ``matching`` (step 1's claims), ``page`` (a page's work), ``mirror`` (its writes).
"""

from infobip.sync import matching, mirror, page, params, runs
from infobip.sync.matching import identity_contacts
from infobip.sync.page import PageWork
from infobip.sync.params import run_params
from infobip.sync.runs import execute_run, sync_runs_resume_stale

__all__ = [
    "PageWork",
    "execute_run",
    "identity_contacts",
    "matching",
    "mirror",
    "page",
    "params",
    "run_params",
    "runs",
    "sync_runs_resume_stale",
]
