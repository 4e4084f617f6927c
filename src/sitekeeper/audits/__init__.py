"""Security audits of sites: component inventory, known vulnerabilities, file integrity, malware, suspicious
activity — each result a Finding that can open a service-desk incident or become a security incident."""
