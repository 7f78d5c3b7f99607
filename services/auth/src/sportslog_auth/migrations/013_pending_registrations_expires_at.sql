-- The periodic prune (queries/pruning.py) finds expired pending registrations through this.
CREATE INDEX pending_registrations_expires_at ON pending_registrations (expires_at);
