"""User interfaces: the citizens' page (``ui/web``) and the staff console (:mod:`ui.staff`)."""
