from django.urls import path

from tracking.api import FormSubmissionView, IdentifyView, TrackView

urlpatterns = [
    path("v1/track/events", TrackView.as_view(), name="track-events"),
    path("v1/track/identify", IdentifyView.as_view(), name="track-identify"),
    path("v1/forms/<slug:form>/submissions", FormSubmissionView.as_view(), name="form-submissions"),
]
