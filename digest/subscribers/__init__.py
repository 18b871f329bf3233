"""Subscribers: roster files, list membership, and the audiences (segments) they form."""
