-- The periodic prune finds deliveries past DELIVERY_RETENTION_DAYS through it.
CREATE INDEX deliveries_updated_at ON deliveries (updated_at);
