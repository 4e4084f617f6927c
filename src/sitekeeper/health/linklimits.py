"""The bounds of a site's link-scan limits, in one Django-free place: the model, the staff form,
`linkscan --max-pages/--max-depth` and the contract file's schema all check against these."""

# At least the start page and its links; at most what a monthly scan of one site should ask of it.
LINK_MAX_PAGES = (1, 100_000)
LINK_MAX_DEPTH = (1, 100)
