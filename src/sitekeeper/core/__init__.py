"""The contract's arithmetic as plain Python (no Django): calendars, SLA clocks, uptime and credits.

Instants are timezone-aware datetimes; everything returned is in UTC. Calendars reason in their own zone.
"""
