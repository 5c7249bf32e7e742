"""Poster datasets: reading folders, checking images, splitting."""
