"""RabbitMQ (DESIGN.md §5, §8), one concept per module; import from the module itself.

- `topology`: every exchange, queue, argument and binding; the map an operator reads.
- `connection`: the process's one robust connection.
- `publisher`: envelopes out, persistent, `mandatory`, with publisher confirms.
- `consumer`: one queue in; ack after the handler, retry with backoff, dead-letter with reason.
"""
