"""A tenant's organisation: its units (service centre, departments, communes and wards) and the
staff of each unit with their role there."""
