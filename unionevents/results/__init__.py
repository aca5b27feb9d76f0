"""Results of classes and meetings: a worker's feedback on a class, attendance by unit."""
