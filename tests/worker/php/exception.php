<?php
throw new RuntimeException('uncaught in classic mode');
