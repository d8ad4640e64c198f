from django.contrib import admin


class CdpAdminSite(admin.AdminSite):
    site_header = "cdpadmin"
    site_title = "cdpadmin"
    index_title = "Dashboard"
