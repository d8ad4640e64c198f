from django.contrib import admin

from cdpadmin import dashboard
from core import charts
from identities.login import ThrottledAdminAuthenticationForm
from identities.realms import user_realm_ids
from tracking import selectors as tracking_selectors


class CdpAdminSite(admin.AdminSite):
    site_header = "cdpadmin"
    site_title = "cdpadmin"
    index_title = "Dashboard"
    index_template = "admin/cdp_index.html"
    login_form = ThrottledAdminAuthenticationForm  # brute force: identities.throttle
    # The app list is on the dashboard and in the breadcrumbs; without the left sidebar every list has the
    # page's width at 1280 px.
    enable_nav_sidebar = False

    def index(self, request, extra_context=None):
        realm_ids = user_realm_ids(request.user)
        per_day = dashboard.persons_added_per_day(realm_ids)
        context = {
            "realm_counts": dashboard.realm_counts(realm_ids),
            "persons_chart": charts.bar_chart(per_day, label="Persons added per day, last 30 days"),
            "persons_last_30": sum(n for _, n in per_day),
            "latest": dashboard.latest_changes(realm_ids, request.user),
            "funnel": tracking_selectors.funnel_card(realm_ids),
            "runs": dashboard.latest_runs(realm_ids),
            "all_realms": realm_ids is None,
            **(extra_context or {}),
        }
        return super().index(request, extra_context=context)
