#!/bin/sh
if [ -n "$1" ];then
echo   "arg: $1";  fi
for i in 1 2 3; do echo $i;done
f(){ a=$(ls|wc -l); echo "$a" ;}
case "$x" in a) echo a;; b|c) echo bc ;; *) : ;;esac
while read -r line; do printf '%s\n' "$line" ; done < /etc/hostname
