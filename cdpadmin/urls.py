from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("", include("tracking.urls")),  # public: a site key, CORS per site (before the API's /v1/ catch-all)
    path("", include("cdpadmin.api.urls")),
]
