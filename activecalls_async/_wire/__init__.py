"""The wire: what goes out and what comes back, one job a module.

``request`` builds requests from endpoint descriptors and ``response`` turns answers
into results or errors (both pure: no I/O); ``calls`` and ``convert`` decode the
API's records into models; ``http`` sends one request and reads its answer (the only
I/O here).
"""
