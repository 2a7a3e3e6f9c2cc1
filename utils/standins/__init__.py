"""Drawing the offline stand-ins' pictures: cartoon pets (pets.py), boat decks with fish (boats.py),
drivers at the wheel (drivers.py), and the ImageNet stand-in made of all three (imagenet.py).

These modules only draw. Writing a stand-in in its dataset's real layout, and remaking it when its
recipe changes, is each dataset's job (utils/datasets/).
"""
