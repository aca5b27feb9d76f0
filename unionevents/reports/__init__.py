"""Officer reports: summary tables kept current by the services, dashboards, charts and exports."""
