<?php
// A worker script that dies at start-up, every time.
exit(3);
