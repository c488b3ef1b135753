print("checker")
