"""Infobip's published contract, Django-free: the rate limits and sizes (limits) and the filter language
(filters). Imported by the client, our REST API's filtering and the sandbox; imports nothing of ours."""
