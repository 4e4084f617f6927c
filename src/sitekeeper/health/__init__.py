"""Site health: broken-link scans and their crawler, Lighthouse audits of key pages with budgets and trends,
and the per-site health settings."""
