"""Lesson-specific services, helpers and checks: one module (or a few) per lesson."""
