<?xml version="1.0" encoding="UTF-8"?>
<sum><?php echo 1 + 1; ?></sum>
