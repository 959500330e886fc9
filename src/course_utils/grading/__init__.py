"""Grading: the kit that hidden checks are written with (``course_utils.grading.kit``).

The grader itself is ``course_utils.grade`` (``course-grade`` on the command line).
"""
