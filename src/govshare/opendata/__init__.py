"""Open data (资源开放, SR chapter 4): opening a resource to the public after a secrecy
review, and publishing the open part one way into the portal's own database."""
