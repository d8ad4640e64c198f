from django.contrib.admin.apps import AdminConfig


class CdpAdminConfig(AdminConfig):
    """Installs Django's admin with our own site as the default one."""

    default_site = "cdpadmin.admin_site.CdpAdminSite"
