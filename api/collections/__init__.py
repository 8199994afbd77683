"""Collections: named sets of indexed images, stored in Qdrant beside the gateway."""
