"""How the email looks: templates rendered to MJML and text, per segment, within size limits."""
