"""Low-balance levels and the notifications sent to an org's admins."""
