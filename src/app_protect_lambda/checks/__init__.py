"""What runs around the handler rather than at a sink; here, the perimeter's IP filter.

``ip_filter`` judges the client address before the handler runs (``checkpoints.PERIMETER``):
``client_address`` reads it from the event, ``ip_ranges`` holds the lists as sorted integer
ranges, ``ip_lists`` reads the remote lists (file, SSM, S3) with the policy's TTL.
"""
