<?php
// Compiled and cached through opcache_hits.php.
return true;
