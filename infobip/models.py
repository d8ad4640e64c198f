from infobip.ratelimit import RateLimitBucket

__all__ = ["RateLimitBucket"]
