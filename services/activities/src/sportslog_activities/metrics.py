from prometheus_client import Counter

ACTIVITIES_CREATED = Counter("sportslog_activities_created_total", "Activities created", ["source"])
