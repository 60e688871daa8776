def hello(): pass
