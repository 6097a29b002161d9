"""The Umbrella-format directory (the seed `000_…txt`): its terms and its parser.

Pure code with no database and no Flask: the directory service imports it.
"""
