"""Delivery in each reader's time zone (``deliver = "local"``): one issue in waves.

``plan``: the pure wave plan and its time rules; ``zones``: readers' IANA zones checked with a
did-you-mean; ``local``: a period's plan from the store and whom each wave sends to;
``runs``: each wave claimed, sent and recorded once, by the scheduler or by hand.
"""
