"""Security of sites: the software inventory, vulnerability feeds, file integrity, malware, suspicious
activity, findings and security incidents (agreement 6.3)."""
