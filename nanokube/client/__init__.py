"""What client-go is, for nanokube's own components: REST client, informers, work queues.

Components reach the cluster only through these, over the same HTTPS API any client uses.
"""
