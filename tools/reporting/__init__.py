"""Reporting stage: the HTML run report and the OpenTimelineIO timeline."""
