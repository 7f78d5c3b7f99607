"""Sign-in with Google, Facebook, Discord and any OpenID Connect provider (authlib)."""
