"""The broker's names and arguments, pinned as literals: the queues are durable quorum
queues on live brokers, which refuse a redeclaration with other arguments."""

import re

from sportslog_common.bus.topology import (
    DELIVERY_LIMIT,
    dead_letter_arguments,
    queue_name,
    quorum_arguments,
    replica_queue_name,
    retry_arguments,
    retry_queue_name,
)


def test_consumer_queues_are_named_for_the_exchange_and_dead_letter_at_least_once():
    assert queue_name("sportslog.events", "notifier") == "sportslog.events.notifier"
    assert DELIVERY_LIMIT == 5
    assert quorum_arguments("sportslog.dead") == {
        "x-queue-type": "quorum",
        "x-delivery-limit": 5,
        "x-dead-letter-exchange": "sportslog.dead",
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


def test_retry_queues_dead_letter_back_to_their_queue_through_the_default_exchange():
    assert retry_queue_name("sportslog.events.notifier") == "sportslog.events.notifier.retry"
    assert retry_arguments("sportslog.events.notifier") == {
        "x-queue-type": "quorum",
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": "sportslog.events.notifier",
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


def test_the_dead_letter_queue_is_a_plain_quorum_queue():
    assert dead_letter_arguments() == {"x-queue-type": "quorum"}


def test_each_replica_gets_a_fresh_queue_name():
    first = replica_queue_name("sportslog.events", "gateway")
    second = replica_queue_name("sportslog.events", "gateway")
    assert re.fullmatch(r"sportslog\.events\.gateway\.[0-9a-f]{12}", first)
    assert first != second
