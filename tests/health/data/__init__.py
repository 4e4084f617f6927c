"""Test data for the update pipeline: update package zips built at test time from the Debian WordPress tree
(no binaries committed)."""
